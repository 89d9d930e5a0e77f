"""synthface's third layer of provenance: a learned GAN-face detector, and `synthface detect`.

The modules are small and imported on demand (importing this package costs nothing, so
`synthface detect` on a signed image never pays for torch):

- (`synthface.faces`, shared with the attribute model: dlib face + 5 landmarks -> the canonical face view)
- `detectors.chain`: the random degradation chain of every training view, the evaluation edits
- (`synthface.facebank`: each source's faces, found once and cached, for training)
- `detectors.model`: `SynthDetector` (the CNN, its calibration, thresholds, familiarity), `load_detector`
- `detectors.scoring`: `NumpyDetector` (what `detect` runs, no torch), `DetectorHeads` and the outcomes
- `detectors.analysis`: one image -> face -> score -> outcome, as `detect` and the evaluation see it
- `detectors.training`, `detectors.evaluation`: `train_detector`, `evaluate_detector`
- `detectors.detect`: `DetectPipeline`, `Detection` and the verdict strings (inputs: `synthface.provenance.inputs`)
- `detectors.output`: the table and JSON-lines rendering of `synthface detect`
- `detectors.calibration`, `detectors.data`, `detectors.fakes`, `detectors.others`
"""
