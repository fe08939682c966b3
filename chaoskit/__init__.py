"""chaoskit: chaos and resilience testing for event-driven microservices."""

__version__ = "0.1.0"
