function Read-CmgState {
    <#
    .SYNOPSIS
    Reads one of the state files ('identity' or 'token'); $null when there is none.
    #>
    [CmdletBinding()]
    param([Parameter(Mandatory = $true)][ValidateSet('identity', 'token')][string]$Name)
    $directory = Get-CmgStateDirectory
    $path = Join-Path $directory ($Name + '.json')
    if (-not (Test-Path -LiteralPath $path -PathType Leaf)) {
        return $null
    }
    [void](Initialize-CmgStateDirectory -Path $directory)
    try {
        $text = [System.IO.File]::ReadAllText($path)
        return ($text | ConvertFrom-Json -ErrorAction Stop)
    } catch {
        throw (New-CmgErrorRecord -Code 'state_damaged' -Detail ('the device state file {0} cannot be read ({1}); run Reset-CmgDevice and register again' -f $path, $_.Exception.Message) -Category ([System.Management.Automation.ErrorCategory]::InvalidData))
    }
}
