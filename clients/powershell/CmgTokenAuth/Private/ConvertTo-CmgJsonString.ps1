function ConvertTo-CmgJsonString {
    <#
    .SYNOPSIS
    A JSON string literal, escaped exactly as JavaScript's JSON.stringify escapes it.
    .DESCRIPTION
    The proof's header and claims are written byte for byte as the Node.js client writes them.
    ConvertTo-Json cannot promise that: Windows PowerShell 5.1 escapes <, >, & and ' as \u00XX,
    PowerShell 7 does not.
    #>
    [CmdletBinding()]
    [OutputType([string])]
    param([Parameter(Mandatory = $true)][AllowEmptyString()][string]$Value)
    $builder = New-Object -TypeName System.Text.StringBuilder -ArgumentList ($Value.Length + 2)
    [void]$builder.Append('"')
    foreach ($char in $Value.ToCharArray()) {
        $code = [int]$char
        if ($char -eq '"') { [void]$builder.Append('\"') }
        elseif ($char -eq '\') { [void]$builder.Append('\\') }
        elseif ($code -eq 8) { [void]$builder.Append('\b') }
        elseif ($code -eq 9) { [void]$builder.Append('\t') }
        elseif ($code -eq 10) { [void]$builder.Append('\n') }
        elseif ($code -eq 12) { [void]$builder.Append('\f') }
        elseif ($code -eq 13) { [void]$builder.Append('\r') }
        elseif ($code -lt 32) { [void]$builder.Append(('\u{0:x4}' -f $code)) }
        else { [void]$builder.Append($char) }
    }
    [void]$builder.Append('"')
    $builder.ToString()
}
