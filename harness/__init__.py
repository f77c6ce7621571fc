"""sentinel-drill: chaos and disaster-recovery drills with measured RTO/RPO."""

__version__ = "0.1.0"
