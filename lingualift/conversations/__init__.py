"""Conversations stage: oasst trees and other chat formats → `messages` threads and pairs."""
