# Requirement: the module runs on Windows PowerShell 5.1, what every Windows device has. Every
# file is parsed and nothing 5.1 lacks may appear; the checker itself is shown to catch each
# kind of newer syntax, so a pass means something.
BeforeDiscovery {
    $moduleRoot = Join-Path (Split-Path -Parent $PSScriptRoot) 'CmgTokenAuth'
    $moduleFiles = @(Get-ChildItem -Path $moduleRoot -Recurse -File -Include '*.ps1', '*.psm1', '*.psd1' | ForEach-Object {
            @{ Name = $_.FullName.Substring($moduleRoot.Length + 1); Path = $_.FullName }
        })
    $newerSyntax = @(
        @{ Rule = 'ternary'; Code = '$a = $true ? 1 : 2' }
        @{ Rule = 'pipeline chain'; Code = 'Get-Item . && Get-Item ..' }
        @{ Rule = 'pipeline chain'; Code = 'Get-Item . || Write-Error x' }
        @{ Rule = 'null-coalescing operator'; Code = '$a = $b ?? 1' }
        @{ Rule = 'null-coalescing assignment'; Code = '$a ??= 1' }
        @{ Rule = 'null-conditional'; Code = '${a}?.Length' }
        @{ Rule = 'null-conditional'; Code = '${a}?[0]' }
        @{ Rule = 'ForEach-Object -Parallel'; Code = '1..3 | ForEach-Object -Parallel { $_ }' }
        @{ Rule = 'ForEach-Object -Parallel'; Code = '1..3 | % -Parallel { $_ }' }
        @{ Rule = 'class'; Code = 'class Foo { [int]$a }' }
        @{ Rule = 'background'; Code = 'Get-Process &' }
        @{ Rule = 'IsWindows'; Code = 'if ($IsWindows) { 1 }' }
        @{ Rule = 'unicode escape'; Code = '"`u{2713}"' }
        @{ Rule = 'ConvertFrom-Json -AsHashtable'; Code = '$x | ConvertFrom-Json -AsHashtable' }
        @{ Rule = 'Invoke-WebRequest -SkipHttpErrorCheck'; Code = 'Invoke-WebRequest -Uri $u -SkipHttpErrorCheck' }
        @{ Rule = 'Get-Content -AsByteStream'; Code = 'Get-Content -Path a -AsByteStream' }
        @{ Rule = 'Join-Path with more than two'; Code = 'Join-Path a b c' }
        @{ Rule = '-Encoding utf8NoBOM'; Code = 'Set-Content -Path a -Value b -Encoding utf8NoBOM' }
        @{ Rule = 'Test-Json'; Code = 'Test-Json -Json $j' }
        @{ Rule = 'clean block'; Code = 'function f { process { 1 } clean { 2 } }' }
        @{ Rule = 'parse error'; Code = 'function f { ' }
    )
}

BeforeAll {
    . (Join-Path $PSScriptRoot 'support/Find-Ps7OnlySyntax.ps1')
}

Describe 'The module keeps to the Windows PowerShell 5.1 language' {
    # One test over every file: a finding names its file and line.
    It 'has nothing 5.1 lacks in any of its <Count> files' -TestCases @(@{ Count = $moduleFiles.Count; Files = $moduleFiles }) {
        $Count | Should -BeGreaterThan 20
        $findings = foreach ($file in $Files) {
            Find-Ps7OnlySyntax -Path $file.Path | ForEach-Object { '{0}:{1}: {2} ({3})' -f $file.Name, $_.Line, $_.Rule, $_.Text }
        }
        @($findings) | Should -BeNullOrEmpty
    }
}

Describe 'The 5.1 checker' {
    It 'flags <Rule>: <Code>' -ForEach $newerSyntax {
        $findings = @(Find-Ps7OnlySyntax -Text $Code)
        $findings.Count | Should -BeGreaterThan 0
        ($findings.Rule -join '; ') | Should -Match ([regex]::Escape(($Rule -split ' ')[0]))
    }

    It 'passes 5.1 code that looks close: if/else, -and/-or, $null checks, two-path Join-Path, -Encoding UTF8, ::new()' {
        $code = @'
if ($a) { 1 } else { 2 }
if ($a -and $b -or $c) { $x = $y }
if ($null -eq $b) { $b = 1 }
$p = Join-Path $a 'b'
Set-Content -Path $p -Value 'x' -Encoding UTF8
$list = [System.Collections.Generic.List[string]]::new()
1..3 | ForEach-Object -Process { $_ }
$s = 'single `u{2713} is literal'
$c = [System.Environment]::OSVersion.Platform
'@
        @(Find-Ps7OnlySyntax -Text $code) | Should -BeNullOrEmpty
    }
}
