function Get-CmgErrorCategory {
    <#
    .SYNOPSIS
    The PowerShell error category for an HTTP status of the service (0: a local refusal).
    #>
    [CmdletBinding()]
    [OutputType([System.Management.Automation.ErrorCategory])]
    param([int]$Status = 0)
    switch ($Status) {
        0 { return [System.Management.Automation.ErrorCategory]::InvalidArgument }
        400 { return [System.Management.Automation.ErrorCategory]::InvalidData }
        401 { return [System.Management.Automation.ErrorCategory]::AuthenticationError }
        403 { return [System.Management.Automation.ErrorCategory]::PermissionDenied }
        404 { return [System.Management.Automation.ErrorCategory]::ObjectNotFound }
        409 { return [System.Management.Automation.ErrorCategory]::ResourceExists }
        429 { return [System.Management.Automation.ErrorCategory]::LimitsExceeded }
        503 { return [System.Management.Automation.ErrorCategory]::ResourceUnavailable }
    }
    [System.Management.Automation.ErrorCategory]::ProtocolError
}
