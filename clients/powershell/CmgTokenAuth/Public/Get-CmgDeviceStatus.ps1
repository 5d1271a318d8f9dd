function Get-CmgDeviceStatus {
    <#
    .SYNOPSIS
    Shows the device's registration: device id, status, expiry, key. Sends nothing.
    .DESCRIPTION
    Reads the state folder and the certificate store only. Status is NotRegistered, Pending,
    Active, RenewalDue or Expired. The token itself is never shown.
    .EXAMPLE
    Get-CmgDeviceStatus

    Status, DeviceId, ExpiresAt, RenewAfter, DaysLeft, Thumbprint and where the key is.
    .EXAMPLE
    if ((Get-CmgDeviceStatus).Status -eq 'NotRegistered') { Register-CmgDevice -ServiceUrl $url -Internal }

    A detection or remediation script registers the device only when it is not yet.
    .OUTPUTS
    CmgTokenAuth.DeviceStatus
    #>
    [CmdletBinding()]
    [OutputType('CmgTokenAuth.DeviceStatus')]
    param()
    try {
        Get-CmgStatusObject -Identity (Get-CmgIdentity) -TokenState (Read-CmgState -Name 'token')
    } catch {
        $PSCmdlet.ThrowTerminatingError((ConvertTo-CmgErrorRecord -ErrorRecord $_))
    }
}
