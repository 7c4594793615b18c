#!/usr/bin/env bash
# mkman.sh - the man page (man modus) from the binary's own --help texts, one
# section per command, so the page cannot drift from the options.
# Usage: scripts/mkman.sh MODUS_BINARY OUT.1 VERSION
set -euo pipefail
bin=$1 out=$2 version=$3
# roff-safe: backslashes doubled, lines starting with . or ' escaped
esc() { sed -e 's/\\/\\e/g' -e "s/^\\([.']\\)/\\\\\\&\\1/"; }
{
    echo ".TH MODUS 1 \"\" \"modus $version\" \"User Commands\""
    echo ".SH NAME"
    echo "modus \\- name the execution modality of security events, detect by it, fleet-wide"
    echo ".SH SYNOPSIS"
    echo ".B modus"
    echo ".I COMMAND"
    echo "[\\fIOPTIONS\\fR] ..."
    echo ".br"
    echo ".B modus"
    echo ".I COMMAND"
    echo ".B \\-\\-config"
    echo ".I FILE"
    echo "[\\fIOPTIONS\\fR] ..."
    echo ".SH DESCRIPTION"
    echo ".nf"
    "$bin" --help | esc
    echo ".fi"
    echo ".SH CONFIGURATION FILES"
    echo "Every command accepts"
    echo ".B \\-\\-config"
    echo ".IR FILE :"
    echo "its long options, one per line, without the dashes"
    echo "(\\fIoption\\fR = \\fIvalue\\fR, or \\fIoption\\fR alone for a flag;"
    echo "# starts a comment). The file's options come before the command line's,"
    echo "so the command line wins for options given once. The services read"
    echo ".I /etc/modus/live.conf"
    echo "and"
    echo ".IR /etc/modus/scan.conf ."
    for c in scan query stack rules live baseline fleet; do
        echo ".SH \"MODUS $(echo $c | tr a-z A-Z)\""
        echo ".nf"
        "$bin" "$c" --help 2>&1 | esc
        echo ".fi"
    done
    echo ".SH FILES"
    echo ".TP"
    echo ".I /etc/modus/live.conf"
    echo "options of the sensor service (modus-live.service)"
    echo ".TP"
    echo ".I /etc/modus/scan.conf"
    echo "options of the fleet scanner service (modus-scan.service)"
    echo ".TP"
    echo ".I /var/lib/modus/spool"
    echo "the sensor's spool while the broker is unreachable (\\-\\-spool)"
    echo ".SH EXIT STATUS"
    echo "0 success, 1 alerts found (\\-\\-exit\\-status), 2 usage or input error, 3 rule error."
    echo ".SH SEE ALSO"
    echo "The README and docs/fleet.md (the fleet tier: NATS JetStream cluster, units,"
    echo "sizing, guarantees), installed under /usr/share/doc/modus."
} >"$out"
