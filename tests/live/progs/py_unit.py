# A Python script writing a systemd unit: `python`.
import sys
import time

with open(sys.argv[1], "w") as f:
    f.write("[Unit]\nDescription=modus live test (python)\n")
time.sleep(0.2)
