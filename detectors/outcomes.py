"""The classifier's four answers, as `detect` prints them (no imports: `detect` loads this for free).

- likely synthetic: p at or above the synthetic threshold (set for a target false-positive rate);
- uncertain: p between the thresholds, or an image unlike anything the detector trained on;
- no evidence of synthesis: p below the real threshold (not proof that a photo is real);
- no face found: nothing to score, so no probability is given.
"""

LIKELY_SYNTHETIC = "likely synthetic"
UNCERTAIN = "uncertain"
NO_EVIDENCE = "no evidence of synthesis"
NO_FACE = "no face found"
