"""Detection: YOLO on recorded segments and live frames (issue #6)."""
