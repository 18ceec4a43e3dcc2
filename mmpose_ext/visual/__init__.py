"""Drawing for ``mmpx browse``: a dataset drawn as stored or as the model sees it (:mod:`.browse`). The drawing
functions themselves need no torch and live in :mod:`mmpx.visual.draw`."""
