"""Route blueprints, one module per audience or protocol; app.py registers each with one line."""
