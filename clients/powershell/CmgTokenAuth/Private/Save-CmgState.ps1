function Save-CmgState {
    <#
    .SYNOPSIS
    Writes one of the state files ('identity' or 'token'), atomically and privately.
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory = $true)][ValidateSet('identity', 'token')][string]$Name,
        [Parameter(Mandatory = $true)][System.Collections.IDictionary]$State
    )
    $directory = Initialize-CmgStateDirectory -Path (Get-CmgStateDirectory)
    $json = New-Object -TypeName PSObject -Property $State | ConvertTo-Json -Depth 4
    Write-CmgPrivateFile -Path (Join-Path $directory ($Name + '.json')) -Text ($json + "`n")
}
