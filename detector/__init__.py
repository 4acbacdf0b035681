"""Detection: YOLO on recorded segments and live frames."""
