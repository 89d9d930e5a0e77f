"""synthface's third layer of provenance: a learned GAN-face detector, and `synthface detect`.

The modules are small and imported on demand (importing this package costs nothing, so
`synthface detect` on a signed image never pays for torch):

- `detectors.model`: `SynthDetector` (patch CNN + spectral head + calibration), `load_detector`
- `detectors.training`: `TrainDetectorConfig`, `train_detector`
- `detectors.evaluation`: `evaluate_detector`, `write_report`
- `detectors.detect`: `DetectPipeline`, `Detection` and the verdict strings (inputs: `synthface.provenance.inputs`)
- `detectors.output`: the table and JSON-lines rendering of `synthface detect`
- `detectors.spectral`, `detectors.calibration`, `detectors.augment`, `detectors.splits`, `detectors.fakes`
"""
