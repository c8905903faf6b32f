#!/usr/bin/python3
"""A Majordomo (MDP/0.1) client built only on Debian's python3-zmq and python3-msgpack,
with a plain REQ socket: proves that actorcore speaks the standard protocol.

usage: interop_client.py FRONTEND OUTPUTS_JSON_FILE
Prints the snapshot's four contract keys as JSON.
"""
import json
import sys

import msgpack
import zmq


def main():
    frontend, path = sys.argv[1], sys.argv[2]
    with open(path) as f:
        outputs = json.load(f)
    ctx = zmq.Context()
    req = ctx.socket(zmq.REQ)
    req.setsockopt(zmq.LINGER, 0)
    req.setsockopt(zmq.RCVTIMEO, 10000)
    req.connect(frontend)
    body = msgpack.packb({"op": "resolve", "id": "py-1", "outputs": outputs})
    req.send_multipart([b"MDPC01", b"actorcore", body])
    frames = req.recv_multipart()
    assert frames[0] == b"MDPC01", frames[0]
    assert frames[1] == b"actorcore", frames[1]
    reply = msgpack.unpackb(frames[2], raw=False)
    assert reply["id"] == "py-1", reply
    assert reply["ok"] is True, reply
    snap = reply["snapshot"]
    print(json.dumps({k: snap[k] for k in ("Primary", "Derived", "CapsUsed", "Version")}))


if __name__ == "__main__":
    main()
