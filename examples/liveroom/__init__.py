"""The example live-streaming service: rooms, a WebSocket message hub, Kafka persistence."""
