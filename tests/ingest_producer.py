#!/usr/bin/env python3
"""A game service feeding actorcore on plain pyzmq: actor changes as [topic][msgpack body],
body {actor, outputs}, over PUSH (connect to the broker's ingest.pull) or PUB (bind; the
broker's ingest.sub connects). Proves any language can feed the broker.

usage: ingest_producer.py push ENDPOINT ACTOR_ID VERSION STRENGTH
       ingest_producer.py pub  ENDPOINT ACTOR_ID VERSION STRENGTH SECONDS
"""
import sys
import time

import msgpack
import zmq


def change(actor_id, version, strength):
    return msgpack.packb({
        "actor": {"id": actor_id, "version": version},
        "outputs": [{
            "meta": {"system": "py"},
            "primary": [{"dimension": "strength", "bucket": "FLAT",
                         "value": float(strength), "system": "py"}],
        }],
    })


def main():
    mode, endpoint, actor_id = sys.argv[1], sys.argv[2], sys.argv[3]
    version, strength = int(sys.argv[4]), float(sys.argv[5])
    ctx = zmq.Context()
    body = change(actor_id, version, strength)
    if mode == "push":
        s = ctx.socket(zmq.PUSH)
        s.setsockopt(zmq.LINGER, 5000)
        s.connect(endpoint)
        s.send_multipart([b"zone-1/change", body])
        s.close()
    else:
        # PUB drops what it sends before a subscriber joined: send for a while.
        s = ctx.socket(zmq.PUB)
        s.bind(endpoint)
        until = time.time() + float(sys.argv[6])
        while time.time() < until:
            s.send_multipart([b"zone-1/change", body])
            time.sleep(0.05)
        s.close(linger=0)
    ctx.term()


if __name__ == "__main__":
    main()
