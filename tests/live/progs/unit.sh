#!/bin/bash
# A shell script writing a systemd unit with its own redirection: `shell`.
unit=$1
echo "[Unit]" > "$unit"
echo "Description=modus live test (shell)" >> "$unit"
sleep 0.2
