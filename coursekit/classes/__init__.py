"""Classes of students made up for testing: the sample class, the planted and the synthetic class."""
