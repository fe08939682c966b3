"""How components run: local processes (process.py); the Runtime contract (base.py)."""
