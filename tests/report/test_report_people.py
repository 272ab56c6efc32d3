"""Person names on the report and the annotated video (columns added by identity)."""
import numpy as np
import pandas as pd

from vidaffect.report.draw import face_label
from vidaffect.report.people import person_labels, person_text


def test_person_text():
    assert person_text(3) == "person 3" and person_text(np.int64(0)) == "person 0" and person_text(2.0) == "person 2"
    assert person_text(-1) is None and person_text(None) is None and person_text(float("nan")) is None
    assert person_text(3, "alice") == "alice" and person_text(3, "unknown") == "person 3"
    assert person_text("bob") == "bob"


def test_person_labels_per_track_and_face_label():
    frames = pd.DataFrame({"face_id": [-1, 0, 0, 0, 1, 2],
                           "person_id": [-1, 4, 4, 5, -1, 7],
                           "person_name": [None, "alice", "alice", None, "unknown", None]})
    assert person_labels(frames) == {0: "alice", 2: "person 7"}
    assert person_labels(frames.drop(columns=["person_id", "person_name"])) == {}
    assert face_label(0, "happy", 0.62, "alice") == "alice (face 0)  happy 62%"
    assert face_label(1, None, None) == "face 1"
