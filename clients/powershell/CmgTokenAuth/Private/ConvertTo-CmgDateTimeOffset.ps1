function ConvertTo-CmgDateTimeOffset {
    <#
    .SYNOPSIS
    An ISO 8601 time from the service or the state file, as a DateTimeOffset in UTC.
    .DESCRIPTION
    PowerShell 7's ConvertFrom-Json turns ISO strings into DateTime by itself and 5.1's does not,
    so both arrive here.
    #>
    [CmdletBinding()]
    [OutputType([System.DateTimeOffset])]
    param([Parameter(Mandatory = $true)]$Value)
    if ($Value -is [System.DateTimeOffset]) { return $Value.ToUniversalTime() }
    if ($Value -is [datetime]) {
        if ($Value.Kind -eq [System.DateTimeKind]::Unspecified) {
            $Value = [datetime]::SpecifyKind($Value, [System.DateTimeKind]::Utc)
        }
        return ([System.DateTimeOffset]$Value.ToUniversalTime())
    }
    [System.DateTimeOffset]::Parse([string]$Value, [System.Globalization.CultureInfo]::InvariantCulture, [System.Globalization.DateTimeStyles]::AssumeUniversal).ToUniversalTime()
}
