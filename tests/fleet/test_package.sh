#!/bin/bash
# test_package.sh - the Debian package: built by CPack from this build,
# installed on the machine with dpkg -i (root; exit 77 otherwise, or when a
# modus package is installed already: it is not ours to replace), then the
# installed `modus --version`, `man modus` (a section per command),
# `systemd-analyze verify` of the units, the configuration under /etc/modus
# that the units read, and a clean removal (dpkg --purge leaves nothing).
. "$(dirname "$0")/../cli/lib.sh"
: "${BUILD:?BUILD must point at the build directory}"
if [ "$(id -u)" -ne 0 ]; then
    echo "SKIP: installing a package needs root"
    exit 77
fi
# one package test at a time on this machine (two suites may run at once)
exec 9>/run/lock/modus-package-test.lock
flock -w 300 9 || { echo "FAIL: another package test holds the lock" >&2; finish; exit 1; }
if dpkg-query -W -f='${Status}' modus 2>/dev/null | grep -q installed; then
    echo "SKIP: a modus package is installed on this machine already"
    exit 77
fi
INSTALLED=0
cleanup() {
    [ $INSTALLED = 1 ] && dpkg_locked --purge modus
    rm -rf "$TMP"
}
trap cleanup EXIT

(cd "$BUILD" && cpack -G DEB -B "$TMP/pkg") >"$TMP/cpack.log" 2>&1
deb=$(ls "$TMP"/pkg/modus_*.deb 2>/dev/null | head -1)
check "CPack builds the package" test -f "$deb" || { cat "$TMP/cpack.log" >&2; finish; exit 1; }
dpkg-deb -I "$deb" >"$TMP/info"
check "its dependencies are computed (libnats among them)" grep -q 'Depends:.*libnats' "$TMP/info"
check "the configuration files are conffiles" test "$(dpkg-deb -f "$deb" Package)" = modus -a \
    "$(dpkg-deb --ctrl-tarfile "$deb" | tar -xO ./conffiles | sort | tr '\n' ' ')" = "/etc/modus/live.conf /etc/modus/scan.conf "

dpkg_locked -i "$deb" && INSTALLED=1
check "dpkg -i installs it" test $INSTALLED = 1
expect_eq "the installed modus runs" "$(/usr/bin/modus --version)" "modus $("$MODUS" --version | awk '{print $2}')"
man modus >"$TMP/man.txt" 2>&1
for c in SCAN QUERY STACK RULES LIVE BASELINE FLEET; do
    check "man modus has a section for $c" grep -q "^MODUS $c" "$TMP/man.txt"
done
check "man modus documents --publish" grep -q -- '--publish URL' "$TMP/man.txt"
for u in modus-live modus-scan; do
    check "$u.service is installed" test -f /usr/lib/systemd/system/$u.service
    systemd-analyze verify /usr/lib/systemd/system/$u.service >"$TMP/verify.$u" 2>&1
    expect_eq "systemd-analyze verify $u.service" "$?:$(cat "$TMP/verify.$u")" "0:"
done
check "the sensor's unit reads /etc/modus/live.conf" grep -q 'ExecStart=/usr/bin/modus live --config /etc/modus/live.conf' /usr/lib/systemd/system/modus-live.service
check "the scanner's unit reads /etc/modus/scan.conf" grep -q 'LoadCredential=scan.conf:/etc/modus/scan.conf' /usr/lib/systemd/system/modus-scan.service
check "the configuration is root's alone (it may hold a password)" test "$(stat -c %a /etc/modus/live.conf)" = 600
# the packaged configuration is what the commands accept: every option in it,
# commented or not, parses
for f in live scan; do
    sed -E 's/^#([a-z])/\1/' /etc/modus/$f.conf >"$TMP/$f.conf"
    /usr/bin/modus $f --config "$TMP/$f.conf" --help >/dev/null 2>"$TMP/$f.err"
    expect_eq "every option of the packaged $f.conf is known" "$?:$(cat "$TMP/$f.err")" "0:"
done

dpkg_locked --purge modus && INSTALLED=0
check "dpkg --purge removes it" test $INSTALLED = 0
left=$(ls -d /usr/bin/modus /etc/modus /usr/lib/systemd/system/modus-*.service /usr/share/man/man1/modus.1.gz \
    /usr/share/doc/modus 2>/dev/null)
expect_eq "nothing is left behind" "$left" ""
check "dpkg forgets it" bash -c "! dpkg-query -W modus >/dev/null 2>&1 || dpkg-query -W -f='\${Status}' modus | grep -q not-installed"
finish
