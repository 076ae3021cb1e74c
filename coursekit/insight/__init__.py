"""What a graded class tells: the class report, similarity and the LMS export."""
