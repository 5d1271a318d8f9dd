function New-CmgIdentity {
    <#
    .SYNOPSIS
    Makes and records the device key: in the certificate store on Windows (the machine's when
    elevated or SYSTEM, else the user's), in files elsewhere.
    #>
    [CmdletBinding()]
    param([Parameter(Mandatory = $true)][ValidateSet('RSA', 'ECDsaP256')][string]$KeyAlgorithm)
    if (Test-CmgWindows) {
        $location = 'CurrentUser'
        if (Test-CmgElevated) { $location = 'LocalMachine' }
        $saved = New-CmgStoreIdentity -KeyAlgorithm $KeyAlgorithm -StoreLocation $location
    } else {
        $saved = New-CmgFileIdentity -KeyAlgorithm $KeyAlgorithm
    }
    Save-CmgState -Name 'identity' -State $saved
}
