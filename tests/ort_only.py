"""Runs an exported ONNX policy with onnxruntime alone, as a deployment would: the tests start it with
``python -I`` (no PYTHONPATH, no user site, no current folder), so nothing of this project can be imported.

    python -I tests/ort_only.py MODEL OBS.npz OUT.npy

OBS.npz holds sets of observations, ``"{k}.{input name}"`` -> array of ``n`` rows for set ``k = 0, 1, ...``; OUT.npy
gets the actions, ``(sets, n, action_dim)``. Checks on the way that the graph's inputs and output are the ones its
``.meta.json`` names, that one row at a time gives the batch's actions (the batch dimension is dynamic) and that the
file embeds the same metadata. Prints, as JSON, the modules of the project (or torch) that got imported (none
should) and each input's type and shape."""

import json
import sys

import numpy as np
import onnxruntime as ort

model, obs_file, out_file = sys.argv[1:]
meta = json.load(open(model + ".meta.json"))
options = ort.SessionOptions()
options.intra_op_num_threads = 1
session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
names, (out,) = [i.name for i in session.get_inputs()], [o.name for o in session.get_outputs()]
assert names == list(meta["inputs"]) and [out] == list(meta["outputs"]), (names, out)
data = np.load(obs_file)
results = []
for k in range(len({key.split(".")[0] for key in data.files})):
    feed = {name: data[f"{k}.{name}"] for name in names}
    batch = session.run([out], feed)[0]
    one = np.concatenate([session.run([out], {n: v[i : i + 1] for n, v in feed.items()})[0] for i in range(5)])
    np.testing.assert_array_equal(one, batch[:5])  # the batch dimension is dynamic: 1 row or many
    results.append(batch)
np.save(out_file, np.stack(results))
embedded = json.loads(session.get_modelmeta().custom_metadata_map["grasp_sac.meta"])
assert embedded == meta, "the file carries the same metadata as its meta.json"
loaded = sorted(m for m in ("torch", "sac", "grasp_env", "train", "gymnasium") if m in sys.modules)
print(json.dumps({"loaded": loaded, "inputs": {i.name: [i.type, i.shape] for i in session.get_inputs()}}))
