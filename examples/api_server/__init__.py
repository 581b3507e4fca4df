"""The example HTTP API: users, products, payment/checkout, on Starlette (and an aiohttp variant)."""
