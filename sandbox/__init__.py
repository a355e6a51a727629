"""sandbox: verify library migrations per service in throwaway containers before promoting them."""

__version__ = "0.1.0"
