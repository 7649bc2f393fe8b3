require 'json'

package = JSON.parse(File.read(File.join(__dir__, 'package.json')))

Pod::Spec.new do |s|
  s.name = 'NexusStoreReactNative'
  s.version = package['version']
  s.summary = package['description']
  s.license = package['license']
  s.homepage = 'https://github.com/nexus-store/nexus-store'
  s.author = 'nexus-store'
  s.source = { :git => 'https://github.com/nexus-store/nexus-store.git', :tag => s.version.to_s }
  s.source_files = 'ios/**/*.{swift,m}'
  s.platforms = { :ios => '14.0' }
  s.swift_version = '5.9'
  s.frameworks = 'BackgroundTasks'
  s.dependency 'React-Core'
end
