"""Route blueprints, one module per audience; app.py registers each with one line."""
