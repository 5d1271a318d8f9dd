function Write-CmgPrivateFile {
    <#
    .SYNOPSIS
    Writes a file in the state folder atomically, readable only by its owner.
    .DESCRIPTION
    The text goes to a new file beside the target, which then replaces the target: a reader never
    sees half a token. Outside Windows the new file is created 0600 (never readable by others,
    not even for a moment); on Windows it inherits the state folder's ACL.
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory = $true)][string]$Path,
        [Parameter(Mandatory = $true)][AllowEmptyString()][string]$Text
    )
    $bytes = (New-Object -TypeName System.Text.UTF8Encoding -ArgumentList $false).GetBytes($Text)
    $temporary = '{0}.{1}.tmp' -f $Path, [guid]::NewGuid().ToString('N')
    try {
        if (Test-CmgWindows) {
            [System.IO.File]::WriteAllBytes($temporary, $bytes)
        } else {
            $options = New-Object -TypeName System.IO.FileStreamOptions
            $options.Mode = [System.IO.FileMode]::CreateNew
            $options.Access = [System.IO.FileAccess]::Write
            $options.UnixCreateMode = [System.IO.UnixFileMode]'UserRead, UserWrite'
            $stream = New-Object -TypeName System.IO.FileStream -ArgumentList $temporary, $options
            try {
                $stream.Write($bytes, 0, $bytes.Length)
                $stream.Flush($true)
            } finally {
                $stream.Dispose()
            }
        }
        if (Test-Path -LiteralPath $Path) {
            # File.Replace keeps the swap atomic where File.Move cannot overwrite (.NET Framework).
            [System.IO.File]::Replace($temporary, $Path, [NullString]::Value)
        } else {
            [System.IO.File]::Move($temporary, $Path)
        }
    } finally {
        if (Test-Path -LiteralPath $temporary) {
            Remove-Item -LiteralPath $temporary -Force
        }
    }
}
