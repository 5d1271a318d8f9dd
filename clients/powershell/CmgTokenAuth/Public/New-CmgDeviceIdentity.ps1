function New-CmgDeviceIdentity {
    <#
    .SYNOPSIS
    Creates the device key and its self-signed certificate.
    .DESCRIPTION
    On Windows the key is made in the certificate store, non-exportable: Cert:\LocalMachine\My
    when elevated or running as SYSTEM, Cert:\CurrentUser\My otherwise; in the TPM through the
    Microsoft Platform Crypto Provider when a ready TPM is present, else in the Microsoft
    Software Key Storage Provider. Elsewhere .NET's CertificateRequest makes it and the key is
    written to a PKCS#8 file that only its owner may read (0600) in the state folder.

    RSA 2048 (the proof is signed RS256) by default, EC P-256 (ES256) with -KeyAlgorithm
    ECDsaP256. Register-CmgDevice makes an identity by itself when there is none; this command
    is for choosing the key type ahead, or replacing the key (-Force: the old key is deleted,
    and with it the registration bound to it).
    .PARAMETER KeyAlgorithm
    RSA (2048 bits, the default) or ECDsaP256.
    .PARAMETER Force
    Replace an existing identity (its key is deleted and its token forgotten).
    .EXAMPLE
    New-CmgDeviceIdentity -KeyAlgorithm ECDsaP256 -Verbose

    Makes an EC P-256 key (in the TPM if there is one) and its certificate, and shows where.
    .EXAMPLE
    New-CmgDeviceIdentity -WhatIf

    Shows where the key would be made, and makes nothing.
    .OUTPUTS
    CmgTokenAuth.DeviceStatus: the thumbprint (SHA-1, as Windows shows it), the SHA-256 the
    device token will be bound to, the key storage and provider.
    #>
    [CmdletBinding(SupportsShouldProcess = $true)]
    [OutputType('CmgTokenAuth.DeviceStatus')]
    param(
        [ValidateSet('RSA', 'ECDsaP256')][string]$KeyAlgorithm = 'RSA',
        [switch]$Force
    )
    try {
        $existing = Read-CmgState -Name 'identity'
        if ($null -ne $existing -and -not $Force) {
            throw (New-CmgErrorRecord -Code 'identity_exists' -Detail ('the device already has a key (certificate {0}); -Force replaces it, Reset-CmgDevice removes it with its registration' -f $existing.thumbprint) -Category ([System.Management.Automation.ErrorCategory]::ResourceExists))
        }
        $target = Get-CmgIdentityTarget
        if (-not $PSCmdlet.ShouldProcess($target, ('Create a {0} device key and its self-signed certificate' -f $KeyAlgorithm))) {
            return
        }
        if ($null -ne $existing) {
            Remove-CmgIdentity -Saved $existing
            Remove-CmgState -Name 'token'
        }
        New-CmgIdentity -KeyAlgorithm $KeyAlgorithm
        Get-CmgStatusObject -Identity (Get-CmgIdentity)
    } catch {
        $PSCmdlet.ThrowTerminatingError((ConvertTo-CmgErrorRecord -ErrorRecord $_))
    }
}
