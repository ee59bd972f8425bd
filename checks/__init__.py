"""The rubric: one pytest module per pipeline stage; test names mirror check ids."""
