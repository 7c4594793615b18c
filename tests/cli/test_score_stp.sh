#!/usr/bin/env bash
# test_score_stp.sh - `modus rules score` on analytics whose Summiting the
# Pyramid scores MITRE CTID published (center-for-threat-informed-defense/
# summiting-the-pyramid at eabb494: docs/analytics/*.rst and the scored
# CSV docs/analytics/ScoredAnalytics_05062025.csv). Each analytic is written
# here as a Sigma rule with the logic the page scores, and must get the score
# the page gives. Sysmon 1 is scored with STP's 2024 column revision (K).
# Analytics where STP's own pages disagree (file_event rules: U on the column
# pages, K in the CSV) are left out but for the one the task-scheduling page
# scores explicitly.
source "$(dirname "$0")/lib.sh"
mkdir -p "$TMP/r"
n=0
agree=0
# stp NAME WANT SOURCE LOGSOURCE: the detection on stdin
stp() {
    local f=$TMP/r/$n.yml
    n=$((n + 1))
    printf 'title: %s\nlogsource:\n%s\ndetection:\n' "$1" "$4" >"$f"
    cat >>"$f"
    local got
    got=$("$MODUS" rules score --json "$f" 2>"$TMP/err" | jq -r .robustness.score)
    if [ "$got" = "$2" ]; then
        agree=$((agree + 1))
    else
        echo "  $1 ($3): modus $got, STP $2" >&2
        "$MODUS" rules score "$f" 2>/dev/null | sed -n 2p >&2
    fi
    expect_eq "$1 ($3)" "$got" "$2"
}
WIN_PROC='    product: windows
    category: process_creation'
SEC='    product: windows
    service: security'

# --- task_scheduling.rst -----------------------------------------------------------------
stp "schtasks by image name" 1K "task_scheduling.rst, Sysmon 1 as K since 2024" "$WIN_PROC" <<'EOF'
    selection:
        Image|endswith: '\schtasks.exe'
        CommandLine|contains: ' /create '
    filter:
        User|contains:
            - 'AUTHORI'
            - 'AUTORI'
    condition: selection and not filter
EOF
stp "Sysmon 11 under System32\\Tasks" 5U "task_scheduling.rst improved #1" '    product: windows
    category: file_event' <<'EOF'
    selection:
        TargetFilename|contains:
            - 'C:\Windows\System32\Tasks'
            - 'C:\Windows\SysWOW64\Tasks'
    condition: selection
EOF
stp "Sysmon 12/13/14 on TaskCache" 5K "task_scheduling.rst improved #2" '    product: windows
    category: registry_event' <<'EOF'
    selection:
        TargetObject|contains:
            - 'HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion\Schedule\TaskCache\Tree\'
            - 'HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion\Schedule\TaskCache\Tasks\'
    condition: selection
EOF

# --- robustdetection.rst: the 4698 event itself ------------------------------------------------
stp "Security 4698 task creation" 4A "robustdetection.rst" "$SEC" <<'EOF'
    selection:
        EventID: 4698
    condition: selection
EOF

# --- remote_registry.rst -----------------------------------------------------------------------
stp "5145 share access to winreg" 4K "remote_registry.rst, the selection" "$SEC" <<'EOF'
    selection:
        EventID: 5145
        RelativeTargetName|contains: '\winreg'
    condition: selection
EOF
stp "5145 winreg, filtered by IpAddress" 1K "remote_registry.rst original" "$SEC" <<'EOF'
    selection:
        EventID: 5145
        RelativeTargetName|contains: '\winreg'
    filter_main:
        IpAddress: '10.1.2.3'
    condition: selection and not filter_main
EOF
stp "5145 winreg, filtered by SubjectUserName" 3K "remote_registry.rst improved" "$SEC" <<'EOF'
    selection:
        EventID: 5145
        RelativeTargetName|contains: 'winreg'
    filter_main:
        SubjectUserName: 'admin-ws01$'
    condition: selection and not filter_main
EOF

# --- service_registry_permissions_weakness_check.rst ------------------------------------------------
stp "4104 ScriptBlock text" 2A "service_registry_permissions_weakness_check.rst original" '    product: windows
    category: ps_script' <<'EOF'
    selection:
        ScriptBlockText|contains|all:
            - 'get-acl'
            - 'REGISTRY::HKLM\SYSTEM\CurrentControlSet\Services\'
    condition: selection
EOF
stp "4663 SACL access on the Services key" 5K "service_registry_permissions_weakness_check.rst improved" "$SEC" <<'EOF'
    selection:
        EventID: 4663
        ObjectName|contains: '\SYSTEM\CurrentControlSet\Services\'
    condition: selection
EOF

# --- lsass_memory.rst --------------------------------------------------------------------------------
LSASS='    product: windows
    category: process_access'
stp "Sysmon 10 with a CallTrace pattern" 2U "lsass_memory.rst original" "$LSASS" <<'EOF'
    selection:
        TargetImage|endswith: '\lsass.exe'
        GrantedAccess:
            - '0x1410'
            - '0x1010'
            - '0x1438'
            - '0x143a'
            - '0x1418'
        CallTrace|startswith: 'C:\windows\SYSTEM32\ntdll.dll+'
    condition: selection
EOF
stp "Sysmon 10 lsass with access masks" 4U "lsass_memory.rst improved" "$LSASS" <<'EOF'
    selection:
        TargetImage|endswith: '\lsass.exe'
        GrantedAccess:
            - '0x1410'
            - '0x1010'
    condition: selection
EOF
stp "Sysmon 10 lsass, filtered by SourceUser" 3U "lsass_memory.rst improved with filter; CSV: Malicious LSASS Memory Access" "$LSASS" <<'EOF'
    selection:
        TargetImage|endswith: '\lsass.exe'
        GrantedAccess:
            - '0x1410'
            - '0x1010'
    filter:
        SourceUser: 'NT AUTHORITY\SYSTEM'
    condition: selection and not filter
EOF

# --- adfind.rst ------------------------------------------------------------------------------------------
stp "AdFind by image name" 1K "adfind.rst original" "$WIN_PROC" <<'EOF'
    selection:
        CommandLine|contains:
            - 'objectcategory'
            - 'trustdmp'
        Image|endswith: '\adfind.exe'
    condition: selection
EOF
stp "AdFind by OriginalFileName" 2K "adfind.rst improved" "$WIN_PROC" <<'EOF'
    selection:
        CommandLine|contains:
            - 'objectcategory'
            - 'trustdmp'
        OriginalFileName|endswith: '\adfind.exe'
    condition: selection
EOF

# --- the scored CSV ---------------------------------------------------------------------------------------
stp "5136 msDS-KeyCredentialLink" 4K "CSV: Possible Shadow Credentials Added" "$SEC" <<'EOF'
    selection:
        EventID: 5136
        AttributeLDAPDisplayName: 'msDS-KeyCredentialLink'
    condition: selection
EOF
stp "Windows Backup 524" 4A "CSV: Backup Catalog Deleted" '    product: windows
    service: application' <<'EOF'
    selection:
        Provider_Name: 'Microsoft-Windows-Backup'
        EventID: 524
    condition: selection
EOF
stp "7045 service name" 1U "CSV: Turla PNG Dropper Service" '    product: windows
    service: system' <<'EOF'
    selection:
        EventID: 7045
        ServiceName: 'WerFaultSvc'
    condition: selection
EOF
stp "Sysmon 10 CallTrace from UNKNOWN" 2U "CSV: Direct Syscall of NtOpenProcess" "$LSASS" <<'EOF'
    selection:
        CallTrace|startswith: 'UNKNOWN'
    condition: selection
EOF
stp "named pipe names" 1K "CSV: CobaltStrike Named Pipe Patterns" '    product: windows
    category: pipe_created' <<'EOF'
    selection:
        PipeName|startswith:
            - '\MSSE-'
            - '\postex_'
    condition: selection
EOF
stp "Sysmon 3 by image name" 1K "CSV: Network Connection Initiated By PowerShell Process" '    product: windows
    category: network_connection' <<'EOF'
    selection:
        Image|endswith:
            - '\powershell.exe'
            - '\pwsh.exe'
        Initiated: 'true'
    condition: selection
EOF
stp "4104 ScriptBlock list" 2A "CSV: Enumerate Credentials from Windows Credential Manager With PowerShell" '    product: windows
    category: ps_script' <<'EOF'
    selection:
        ScriptBlockText|contains:
            - 'vaultcmd'
            - '/listcreds:'
    condition: selection
EOF

echo "$agree of $n analytics score as STP published"
finish
