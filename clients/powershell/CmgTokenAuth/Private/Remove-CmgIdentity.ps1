function Remove-CmgIdentity {
    <#
    .SYNOPSIS
    Deletes the device key and certificate: from the certificate store with its key
    (-DeleteKey), or the key and certificate files; then the identity record.
    #>
    [CmdletBinding()]
    param([Parameter(Mandatory = $true)]$Saved)
    if ($Saved.keyStorage -eq 'CertStore') {
        $path = 'Cert:\{0}\My\{1}' -f $Saved.storeLocation, $Saved.thumbprint
        if (Test-Path -LiteralPath $path) {
            Remove-CmgStoreCertificate -Path $path
        }
    } else {
        foreach ($name in @('device-key.pem', 'device-cert.pem')) {
            $file = Join-Path (Get-CmgStateDirectory) $name
            if (Test-Path -LiteralPath $file) {
                Write-Verbose ('Deleting {0}' -f $file)
                Remove-Item -LiteralPath $file -Force
            }
        }
    }
    Remove-CmgState -Name 'identity'
}
