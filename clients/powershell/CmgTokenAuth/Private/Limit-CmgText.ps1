function Limit-CmgText {
    <#
    .SYNOPSIS
    Text without control characters, trimmed and cut to a length.
    #>
    [CmdletBinding()]
    [OutputType([string])]
    param(
        [AllowEmptyString()][AllowNull()][string]$Text,
        [Parameter(Mandatory = $true)][int]$MaxLength
    )
    if ($null -eq $Text) { return '' }
    $clean = ($Text -replace '[\x00-\x1f\x7f-\x9f]', ' ').Trim()
    if ($clean.Length -gt $MaxLength) {
        $clean = $clean.Substring(0, $MaxLength).TrimEnd()
    }
    $clean
}
