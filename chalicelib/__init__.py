"""Runtime code of the annotation API (packaged into the Lambda by chalice)."""
