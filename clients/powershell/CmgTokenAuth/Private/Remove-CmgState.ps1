function Remove-CmgState {
    <#
    .SYNOPSIS
    Deletes one state file if it is there.
    #>
    [CmdletBinding()]
    param([Parameter(Mandatory = $true)][ValidateSet('identity', 'token')][string]$Name)
    $path = Join-Path (Get-CmgStateDirectory) ($Name + '.json')
    if (Test-Path -LiteralPath $path -PathType Leaf) {
        Remove-Item -LiteralPath $path -Force
    }
}
