function ConvertFrom-CmgPem {
    <#
    .SYNOPSIS
    The bytes of the first PEM block with the given label.
    #>
    [CmdletBinding()]
    [OutputType([byte[]])]
    param(
        [Parameter(Mandatory = $true)][string]$Label,
        [Parameter(Mandatory = $true)][string]$Text
    )
    $pattern = '-----BEGIN ' + [regex]::Escape($Label) + '-----([A-Za-z0-9+/=\s]+)-----END ' + [regex]::Escape($Label) + '-----'
    $match = [regex]::Match($Text, $pattern)
    if (-not $match.Success) {
        throw (New-CmgErrorRecord -Code 'state_damaged' -Detail ('no {0} PEM block where one was expected; run Reset-CmgDevice and register again' -f $Label) -Category ([System.Management.Automation.ErrorCategory]::InvalidData))
    }
    , [System.Convert]::FromBase64String(($match.Groups[1].Value -replace '\s', ''))
}
