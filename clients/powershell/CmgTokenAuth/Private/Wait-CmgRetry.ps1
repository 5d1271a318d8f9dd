function Wait-CmgRetry {
    <#
    .SYNOPSIS
    Waits as long as the service's Retry-After asks, unless that would pass the deadline.
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory = $true)][int]$Seconds,
        [Parameter(Mandatory = $true)][System.DateTimeOffset]$Deadline,
        [Parameter(Mandatory = $true)][string]$Reason
    )
    if ([System.DateTimeOffset]::UtcNow.AddSeconds($Seconds) -gt $Deadline) {
        throw (New-CmgErrorRecord -Code 'wait_timeout' -Detail ('{0}, and waiting another {1} s would pass -TimeoutSeconds; run the command again later' -f $Reason, $Seconds) -Category ([System.Management.Automation.ErrorCategory]::OperationTimeout))
    }
    Write-Verbose ('{0}: waiting {1} s, as the service asks (Retry-After)' -f $Reason, $Seconds)
    Start-Sleep -Seconds $Seconds
}
