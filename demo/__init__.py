"""The end-to-end demo (``make demo``) and the stand-ins it runs: not part of the installed package."""
