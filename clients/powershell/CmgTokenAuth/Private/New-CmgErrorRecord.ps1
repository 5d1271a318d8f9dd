function New-CmgErrorRecord {
    <#
    .SYNOPSIS
    Builds the ErrorRecord every refusal of this module is thrown as.
    .DESCRIPTION
    FullyQualifiedErrorId is 'CmgTokenAuth.<code>' (PowerShell appends ',<command>' when a public
    function throws it), so a script switches on the same stable code the service sends. The
    TargetObject carries Code, Status, Detail and RetryAfterSeconds for scripts that want more.
    #>
    [CmdletBinding()]
    [OutputType([System.Management.Automation.ErrorRecord])]
    param(
        [Parameter(Mandatory = $true)][string]$Code,
        [Parameter(Mandatory = $true)][string]$Detail,
        [int]$Status = 0,
        [Nullable[int]]$RetryAfterSeconds = $null,
        [System.Management.Automation.ErrorCategory]$Category = [System.Management.Automation.ErrorCategory]::NotSpecified,
        [System.Exception]$InnerException = $null
    )
    if ($Category -eq [System.Management.Automation.ErrorCategory]::NotSpecified) {
        $Category = Get-CmgErrorCategory -Status $Status
    }
    if ($Status -gt 0) {
        $message = '{0} {1}: {2}' -f $Status, $Code, $Detail
    } else {
        $message = '{0}: {1}' -f $Code, $Detail
    }
    if ($null -ne $RetryAfterSeconds) {
        $message = '{0} (retry after {1} s)' -f $message, $RetryAfterSeconds
    }
    $exception = New-Object -TypeName System.InvalidOperationException -ArgumentList $message, $InnerException
    $target = [pscustomobject]@{
        Code              = $Code
        Status            = $Status
        Detail            = $Detail
        RetryAfterSeconds = $RetryAfterSeconds
    }
    New-Object -TypeName System.Management.Automation.ErrorRecord -ArgumentList $exception, ('CmgTokenAuth.' + $Code), $Category, $target
}
