function Test-CmgTpmAvailable {
    <#
    .SYNOPSIS
    Whether a ready TPM can hold the device key (through the Microsoft Platform Crypto Provider).
    .DESCRIPTION
    Get-Tpm needs elevation; unelevated, or without the TrustedPlatformModule module, the answer
    is no and the software key storage provider is used.
    #>
    [CmdletBinding()]
    [OutputType([bool])]
    param()
    try {
        $tpm = Get-Tpm -ErrorAction Stop
        return [bool]($tpm.TpmPresent -and $tpm.TpmReady)
    } catch {
        Write-Verbose ('No usable TPM: {0}' -f $_.Exception.Message)
        return $false
    }
}
