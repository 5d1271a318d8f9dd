function New-CmgStoreIdentity {
    <#
    .SYNOPSIS
    Windows: the device key, non-exportable, and its self-signed certificate in Cert:\<store>\My.
    .DESCRIPTION
    In the TPM through the Microsoft Platform Crypto Provider when Test-CmgTpmAvailable says
    there is one (if the TPM refuses the key, the software KSP is used and a warning says so),
    else the Microsoft Software Key Storage Provider. Valid from five minutes ago (clock skew)
    for ten years; key usage digital signature, extended key usage client authentication.
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory = $true)][ValidateSet('RSA', 'ECDsaP256')][string]$KeyAlgorithm,
        [Parameter(Mandatory = $true)][ValidateSet('LocalMachine', 'CurrentUser')][string]$StoreLocation
    )
    $software = 'Microsoft Software Key Storage Provider'
    $tpm = 'Microsoft Platform Crypto Provider'
    $providers = @($software)
    if (Test-CmgTpmAvailable) {
        $providers = @($tpm, $software)
    }
    $now = Get-Date
    $parameters = @{
        Subject           = Get-CmgCertificateSubject
        FriendlyName      = 'CmgTokenAuth device key'
        CertStoreLocation = ('Cert:\{0}\My' -f $StoreLocation)
        KeyExportPolicy   = 'NonExportable'
        KeyUsage          = 'DigitalSignature'
        Type              = 'Custom'
        TextExtension     = @('2.5.29.37={text}1.3.6.1.5.5.7.3.2')
        HashAlgorithm     = 'SHA256'
        NotBefore         = $now.AddMinutes(-5)
        NotAfter          = $now.AddDays(3650)
    }
    if ($KeyAlgorithm -eq 'RSA') {
        $parameters.KeyAlgorithm = 'RSA'
        $parameters.KeyLength = 2048
    } else {
        $parameters.KeyAlgorithm = 'ECDSA_nistP256'
    }
    $certificate = $null
    $used = $null
    foreach ($provider in $providers) {
        try {
            Write-Verbose ('Creating a non-exportable {0} key with {1} in Cert:\{2}\My' -f $KeyAlgorithm, $provider, $StoreLocation)
            $certificate = New-SelfSignedCertificate @parameters -Provider $provider -ErrorAction Stop
            $used = $provider
            break
        } catch {
            if ($provider -eq $software) {
                throw (New-CmgErrorRecord -Code 'key_creation_failed' -Detail ('the certificate store refused the device key ({0})' -f $_.Exception.Message) -Category ([System.Management.Automation.ErrorCategory]::WriteError) -InnerException $_.Exception)
            }
            Write-Warning ('The TPM refused the device key ({0}); using the software key storage provider' -f $_.Exception.Message)
        }
    }
    @{
        keyStorage    = 'CertStore'
        storeLocation = $StoreLocation
        thumbprint    = $certificate.Thumbprint
        provider      = $used
        keyAlgorithm  = $KeyAlgorithm
    }
}
