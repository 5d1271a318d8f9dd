function Initialize-CmgStateDirectory {
    <#
    .SYNOPSIS
    Creates the state folder, readable only by whom it belongs to, or checks an existing one.
    .DESCRIPTION
    Windows: under ProgramData the folder gets an ACL of SYSTEM and Administrators only, with
    inheritance from ProgramData cut (where Users may read). Elsewhere: created 0700; an
    existing folder that group or others may use is refused, as cmg-client refuses it — whoever
    can write there could swap the device's key or token.
    #>
    [CmdletBinding()]
    [OutputType([string])]
    param([Parameter(Mandatory = $true)][string]$Path)
    if (Test-CmgWindows) {
        $created = $false
        if (-not (Test-Path -LiteralPath $Path -PathType Container)) {
            Write-Verbose ('Creating the state folder {0}' -f $Path)
            [void](New-Item -ItemType Directory -Path $Path -Force)
            $created = $true
        }
        if ($env:ProgramData -and $Path.StartsWith($env:ProgramData, [System.StringComparison]::OrdinalIgnoreCase)) {
            # Set when made, and again if someone let ProgramData's inherited entries back in.
            if ($created -or -not (Get-Acl -LiteralPath $Path).AreAccessRulesProtected) {
                Set-CmgStateDirectoryAcl -Path $Path
            }
        }
        return $Path
    }
    $private = [System.IO.UnixFileMode]'UserRead, UserWrite, UserExecute'
    if (-not (Test-Path -LiteralPath $Path -PathType Container)) {
        Write-Verbose ('Creating the state folder {0} (mode 0700)' -f $Path)
        [void][System.IO.Directory]::CreateDirectory($Path, $private)
        return $Path
    }
    $mode = [System.IO.File]::GetUnixFileMode($Path)
    $othersMay = [System.IO.UnixFileMode]'GroupRead, GroupWrite, GroupExecute, OtherRead, OtherWrite, OtherExecute'
    if (($mode -band $othersMay) -ne 0) {
        throw (New-CmgErrorRecord -Code 'unsafe_state_folder' -Detail ("the state folder {0} may be used by group or others (mode {1}); whoever can write there could swap the device's key or token: chmod 700 it, or set CMG_TOKEN_AUTH_STATE_DIR to a new folder" -f $Path, $mode))
    }
    $Path
}
