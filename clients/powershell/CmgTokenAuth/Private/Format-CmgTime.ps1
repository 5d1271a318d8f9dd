function Format-CmgTime {
    <#
    .SYNOPSIS
    A time as the service writes it: ISO 8601 UTC with milliseconds and Z.
    #>
    [CmdletBinding()]
    [OutputType([string])]
    param([Parameter(Mandatory = $true)][System.DateTimeOffset]$Time)
    $Time.UtcDateTime.ToString('yyyy-MM-ddTHH:mm:ss.fffZ', [System.Globalization.CultureInfo]::InvariantCulture)
}
