@{
    RootModule           = 'CmgTokenAuth.psm1'
    ModuleVersion        = '0.1.0'
    GUID                 = '5d0c7a4e-2f3b-4d7e-9a51-6c0e3b8f1a27'
    Author               = 'cmg-token-auth'
    CompanyName          = 'cmg-token-auth'
    Copyright            = '(c) cmg-token-auth contributors'
    Description          = 'Device client of cmg-token-auth: keeps the device key in the Windows certificate store (TPM when present), registers the device, renews its token and proves possession of the key on every request.'
    PowerShellVersion    = '5.1'
    CompatiblePSEditions = @('Desktop', 'Core')
    # Listed by name, never '*': what a script may call is decided here, not by the files present.
    FunctionsToExport    = @(
        'New-CmgDeviceIdentity'
        'Register-CmgDevice'
        'Update-CmgDeviceToken'
        'Get-CmgDeviceStatus'
        'Invoke-CmgAuthenticatedRequest'
        'Reset-CmgDevice'
        'Install-CmgRenewalTask'
        'Uninstall-CmgRenewalTask'
    )
    CmdletsToExport      = @()
    VariablesToExport    = @()
    AliasesToExport      = @()
    PrivateData          = @{
        PSData = @{
            Tags       = @('ConfigMgr', 'CMG', 'Intune', 'DeviceAuthentication', 'TPM')
            ProjectUri = 'https://github.com/cmg-token-auth/cmg-token-auth'
        }
    }
}
