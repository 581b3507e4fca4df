"""Live rooms: start/stop, join/leave, online counts, hot rooms, and per-room broadcast."""

from __future__ import annotations

import asyncio
import itertools
import json
from dataclasses import dataclass, field
from typing import Any, Protocol

__all__ = ["Room", "RoomRegistry", "Sender"]


class Sender(Protocol):
    """A connected WebSocket client (``starlette.websockets.WebSocket`` fits)."""

    async def send_text(self, data: str) -> None: ...


@dataclass
class Room:
    """One room; ``viewers`` are users joined over REST or connected over WebSocket."""

    id: int
    name: str
    host: str
    live: bool = False
    viewers: set[str] = field(default_factory=set)
    sockets: set[Sender] = field(default_factory=set)
    messages: int = 0
    gifts: int = 0

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "host": self.host,
            "live": self.live,
            "online": len(self.viewers),
            "messages": self.messages,
            "gifts": self.gifts,
        }


class RoomRegistry:
    """Every room, in memory; all methods run on the event loop (no locking needed)."""

    def __init__(self) -> None:
        self._rooms: dict[int, Room] = {}
        self._ids = itertools.count(1)

    def create(self, name: str, host: str) -> Room:
        room = Room(next(self._ids), name, host)
        self._rooms[room.id] = room
        return room

    def get(self, room_id: int) -> Room | None:
        return self._rooms.get(room_id)

    def all(self) -> list[Room]:
        return list(self._rooms.values())

    def hot(self, limit: int) -> list[Room]:
        """Live rooms by online count, then messages, most first."""
        live = [r for r in self._rooms.values() if r.live]
        return sorted(live, key=lambda r: (len(r.viewers), r.messages), reverse=True)[:limit]

    def online_total(self) -> int:
        return sum(len(r.viewers) for r in self._rooms.values())

    @staticmethod
    async def broadcast(room: Room, payload: dict[str, Any]) -> int:
        """Send ``payload`` to every socket in ``room``; returns how many got it."""
        text = json.dumps(payload)
        sockets = list(room.sockets)
        results = await asyncio.gather(*(s.send_text(text) for s in sockets), return_exceptions=True)
        failed = [s for s, r in zip(sockets, results, strict=True) if isinstance(r, BaseException)]
        for s in failed:
            room.sockets.discard(s)
        return len(sockets) - len(failed)
