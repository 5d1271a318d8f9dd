function Find-Ps7OnlySyntax {
    <#
    .SYNOPSIS
    What in a piece of PowerShell Windows PowerShell 5.1 could not run: parse errors, syntax
    added in PowerShell 6 or 7, and cmdlets or parameters 5.1 does not have.
    .DESCRIPTION
    Reads the AST PowerShell 7's parser builds (it knows the newer syntax, so it can point at
    it). Outputs one object per finding: Rule, Line, Text.
    #>
    [CmdletBinding(DefaultParameterSetName = 'File')]
    param(
        [Parameter(Mandatory = $true, ParameterSetName = 'File')][string]$Path,
        [Parameter(Mandatory = $true, ParameterSetName = 'Text')][string]$Text
    )
    $tokens = $null
    $errors = $null
    if ($PSCmdlet.ParameterSetName -eq 'File') {
        $ast = [System.Management.Automation.Language.Parser]::ParseFile($Path, [ref]$tokens, [ref]$errors)
    } else {
        $ast = [System.Management.Automation.Language.Parser]::ParseInput($Text, [ref]$tokens, [ref]$errors)
    }
    foreach ($parseError in $errors) {
        [pscustomobject]@{ Rule = 'parse error'; Line = $parseError.Extent.StartLineNumber; Text = $parseError.Message }
    }

    $commandsNotIn51 = @('Test-Json', 'Get-Error', 'Join-String', 'ConvertFrom-Markdown', 'Show-Markdown', 'Get-Uptime', 'Remove-Alias', 'Remove-Service', 'Get-PSHostProcessInfo', 'Set-MarkdownOption', 'ConvertTo-CliXml', 'ConvertFrom-CliXml')
    $parametersNotIn51 = @{
        'ConvertFrom-Json'  = @('AsHashtable', 'Depth', 'NoEnumerate', 'DateKind')
        'ConvertTo-Json'    = @('EnumsAsStrings', 'AsArray', 'EscapeHandling')
        'Invoke-WebRequest' = @('SkipHttpErrorCheck', 'StatusCodeVariable', 'ResponseHeadersVariable', 'Authentication', 'Token', 'SkipCertificateCheck', 'MaximumRetryCount', 'RetryIntervalSec', 'Form', 'Resume', 'SslProtocol', 'HttpVersion', 'SkipHeaderValidation', 'AllowUnencryptedAuthentication', 'NoProxy', 'PreserveAuthorizationOnRedirect', 'ConnectionTimeoutSeconds', 'OperationTimeoutSeconds', 'AllowInsecureRedirect', 'PreserveHttpMethodOnRedirect')
        'Invoke-RestMethod' = @('SkipHttpErrorCheck', 'StatusCodeVariable', 'ResponseHeadersVariable', 'Authentication', 'Token', 'SkipCertificateCheck', 'MaximumRetryCount', 'RetryIntervalSec', 'Form', 'Resume', 'SslProtocol', 'HttpVersion', 'SkipHeaderValidation', 'AllowUnencryptedAuthentication', 'NoProxy', 'PreserveAuthorizationOnRedirect', 'FollowRelLink', 'MaximumFollowRelLink', 'ConnectionTimeoutSeconds', 'OperationTimeoutSeconds', 'AllowInsecureRedirect', 'PreserveHttpMethodOnRedirect')
        'Get-Content'       = @('AsByteStream')
        'Set-Content'       = @('AsByteStream')
        'Add-Content'       = @('AsByteStream')
        'Join-Path'         = @('AdditionalChildPath')
        'Select-String'     = @('Raw', 'NoEmphasis', 'Culture')
        'ForEach-Object'    = @('Parallel', 'ThrottleLimit', 'TimeoutSeconds', 'AsJob', 'UseNewRunspace')
        'Get-ChildItem'     = @('FollowSymlink')
        'Split-Path'        = @('Extension', 'LeafBase')
        'Start-Sleep'       = @('Duration')
        'Sort-Object'       = @('Top', 'Bottom', 'Stable')
        'Test-Connection'   = @('TargetName', 'Ping', 'Repeat', 'MtuSize', 'Traceroute', 'TcpPort')
    }
    $encodingsNotIn51 = @('utf8NoBOM', 'utf8BOM', 'ansi', 'bigendianutf32', 'latin1')
    $variablesNotIn51 = @('IsWindows', 'IsLinux', 'IsMacOS', 'IsCoreCLR', 'PSStyle', 'PSNativeCommandArgumentPassing', 'PSNativeCommandUseErrorActionPreference')

    $found = $ast.FindAll({ $true }, $true)
    foreach ($node in $found) {
        $line = $node.Extent.StartLineNumber
        $text = $node.Extent.Text
        if ($text.Length -gt 80) { $text = $text.Substring(0, 80) }
        $typeName = $node.GetType().Name
        $rule = $null
        if ($typeName -eq 'TernaryExpressionAst') { $rule = 'ternary operator (?:)' }
        elseif ($typeName -eq 'PipelineChainAst') { $rule = 'pipeline chain (&& or ||)' }
        elseif ($typeName -eq 'TypeDefinitionAst') { $rule = 'class or enum (kept out: scoping differs in 5.1)' }
        elseif ($typeName -eq 'BinaryExpressionAst' -and $node.Operator.ToString() -eq 'QuestionQuestion') { $rule = 'null-coalescing operator (??)' }
        elseif ($typeName -eq 'AssignmentStatementAst' -and $node.Operator.ToString() -eq 'QuestionQuestionEquals') { $rule = 'null-coalescing assignment (??=)' }
        elseif (($typeName -eq 'MemberExpressionAst' -or $typeName -eq 'InvokeMemberExpressionAst' -or $typeName -eq 'IndexExpressionAst') -and $node.NullConditional) { $rule = 'null-conditional access (?. or ?[])' }
        elseif ($typeName -eq 'PipelineAst' -and $node.Background) { $rule = 'background operator (&)' }
        elseif ($typeName -eq 'ScriptBlockAst' -and $null -ne $node.CleanBlock) { $rule = 'clean block' }
        elseif ($typeName -eq 'VariableExpressionAst' -and $variablesNotIn51 -contains $node.VariablePath.UserPath) { $rule = ('${0} (not defined in 5.1)' -f $node.VariablePath.UserPath) }
        elseif (($typeName -eq 'StringConstantExpressionAst' -or $typeName -eq 'ExpandableStringExpressionAst') -and $node.StringConstantType -ne 'SingleQuoted' -and $node.StringConstantType -ne 'SingleQuotedHereString' -and $node.Extent.Text -match '`u\{') { $rule = 'unicode escape (`u{...})' }
        elseif ($typeName -eq 'CommandAst') {
            $name = $node.GetCommandName()
            if ($name -eq '%' -or $name -eq 'foreach') { $name = 'ForEach-Object' }
            if ($name -and $commandsNotIn51 -contains $name) {
                $rule = ('{0} (no such command in 5.1)' -f $name)
            } elseif ($name -and $parametersNotIn51.ContainsKey($name)) {
                foreach ($element in $node.CommandElements) {
                    if ($element -is [System.Management.Automation.Language.CommandParameterAst]) {
                        foreach ($newer in $parametersNotIn51[$name]) {
                            if ($element.ParameterName.Length -ge 2 -and $newer.StartsWith($element.ParameterName, [System.StringComparison]::OrdinalIgnoreCase) -and $newer -eq ($parametersNotIn51[$name] | Where-Object { $_.StartsWith($element.ParameterName, [System.StringComparison]::OrdinalIgnoreCase) } | Select-Object -First 1)) {
                                $rule = ('{0} -{1} (added after 5.1)' -f $name, $newer)
                            }
                        }
                    }
                }
                if ($name -eq 'Join-Path') {
                    $positional = @($node.CommandElements | Select-Object -Skip 1 | Where-Object { $_ -isnot [System.Management.Automation.Language.CommandParameterAst] })
                    if ($positional.Count -gt 2) { $rule = 'Join-Path with more than two paths (5.1 takes two)' }
                }
            }
            if ($null -eq $rule) {
                for ($index = 0; $index -lt $node.CommandElements.Count - 1; $index++) {
                    $element = $node.CommandElements[$index]
                    if ($element -is [System.Management.Automation.Language.CommandParameterAst] -and $element.ParameterName -eq 'Encoding') {
                        $value = $element.Argument
                        if ($null -eq $value) { $value = $node.CommandElements[$index + 1] }
                        if ($encodingsNotIn51 -contains ($value.Extent.Text.Trim("'", '"'))) { $rule = ('-Encoding {0} (added after 5.1)' -f $value.Extent.Text) }
                    }
                }
            }
        }
        if ($null -ne $rule) {
            [pscustomobject]@{ Rule = $rule; Line = $line; Text = $text }
        }
    }
}
